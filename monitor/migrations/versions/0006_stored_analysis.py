"""the durability analysis stored per patient and per treatment date, kept current on write

Revision ID: 0006_stored_analysis
Revises: 0005_timezone_change
Create Date: 2026-12-01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_stored_analysis'
down_revision = '0005_timezone_change'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'patient_analyses',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('computed_on', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('settings_key', sa.String(length=120), nullable=False),
        sa.Column('treatment_baseline', sa.Float(), nullable=True),
        sa.Column('median_duration', sa.Float(), nullable=True),
        sa.Column('responding_treatments', sa.Integer(), nullable=False),
        sa.Column('duration_pairs', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_patient_analyses_patient_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_patient_analyses')),
    )
    op.create_table(
        'treatment_results',
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('treatment_date', sa.Date(), nullable=False),
        sa.Column('interval_end', sa.Date(), nullable=True),
        sa.Column('baseline', sa.Float(), nullable=True),
        sa.Column('reference', sa.Float(), nullable=True),
        sa.Column('nadir', sa.Integer(), nullable=True),
        sa.Column('nadir_day', sa.Integer(), nullable=True),
        sa.Column('gain', sa.Float(), nullable=True),
        sa.Column('responded', sa.Boolean(), nullable=True),
        sa.Column('threshold', sa.Float(), nullable=True),
        sa.Column('wane_day', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('last_observed_day', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], name=op.f('fk_treatment_results_patient_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('patient_id', 'treatment_date', name=op.f('pk_treatment_results')),
    )


def downgrade():
    op.drop_table('treatment_results')
    op.drop_table('patient_analyses')
