"""the standard GAD-7 (SPEC 2.2): its own table, apart from the daily check-ins, and the date a
patient last chose "later" for it

Revision ID: 0013_standard_gad7
Revises: 0012_change_totals
Create Date: 2026-12-06

A new table and a nullable column: nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_standard_gad7'
down_revision = '0012_change_totals'
branch_labels = None
depends_on = None

ITEMS = [f"q{n}" for n in range(1, 8)]


def upgrade():
    op.create_table(
        'standard_gad7s',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('local_date', sa.Date(), nullable=False),
        *(sa.Column(code, sa.SmallInteger(), nullable=False) for code in ITEMS),
        sa.Column('total', sa.SmallInteger(), nullable=False),
        sa.Column('difficulty', sa.SmallInteger(), nullable=True),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        *(sa.CheckConstraint(f"{code} between 0 and 3", name=f"gad7_{code}_range") for code in ITEMS),
        sa.CheckConstraint("total between 0 and 21", name="gad7_total_range"),
        sa.CheckConstraint("difficulty is null or difficulty between 0 and 3", name="gad7_difficulty_range"),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('patient_id', 'local_date'),
    )
    op.create_index('ix_standard_gad7s_patient_id', 'standard_gad7s', ['patient_id'])
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('gad7_deferred_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('gad7_deferred_on')
    op.drop_index('ix_standard_gad7s_patient_id', table_name='standard_gad7s')
    op.drop_table('standard_gad7s')
