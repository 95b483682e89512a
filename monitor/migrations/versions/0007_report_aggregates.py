"""the clinic report's per-patient sums and the clinic's duration counts, stored with the analysis; indexes for the dashboard

Revision ID: 0007_report_aggregates
Revises: 0006_stored_analysis
Create Date: 2026-12-01

The stored analyses are emptied: they lack the new columns' values and are recomputed on read
or by `flask --app monitor refresh-analysis` (stored_analysis.py).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_report_aggregates'
down_revision = '0006_stored_analysis'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM treatment_results")
    op.execute("DELETE FROM patient_analyses")
    with op.batch_alter_table('patient_analyses') as batch:
        batch.add_column(sa.Column('pair_count', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('treatments', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('judged_treatments', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('waned_by_day_7', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('third_treatment_mean', sa.Float(), nullable=True))
    op.create_table(
        'clinic_duration_counts',
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('waned', sa.Boolean(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'waned', name=op.f('pk_clinic_duration_counts')),
    )


    op.create_table(
        'change_sums',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('squares', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_change_sums_patient_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patient_id', 'day', name=op.f('pk_change_sums')),
    )
    with op.batch_alter_table('treatments') as batch:
        batch.create_index('ix_treatments_patient_id_administered_at', ['patient_id', 'administered_at'])
        batch.drop_index('ix_treatments_patient_id')
    op.create_index('ix_treatment_results_open', 'treatment_results', ['patient_id'],
                    sqlite_where=sa.text('interval_end IS NULL'), postgresql_where=sa.text('interval_end IS NULL'))


def downgrade():
    op.drop_index('ix_treatment_results_open', table_name='treatment_results')
    with op.batch_alter_table('treatments') as batch:
        batch.create_index('ix_treatments_patient_id', ['patient_id'])
        batch.drop_index('ix_treatments_patient_id_administered_at')
    op.drop_table('change_sums')
    op.drop_table('clinic_duration_counts')
    with op.batch_alter_table('patient_analyses') as batch:
        for name in ('third_treatment_mean', 'waned_by_day_7', 'judged_treatments', 'treatments',
                     'pair_count'):
            batch.drop_column(name)
