"""each stored session result keeps the totals its change from the reference level reads, and each stored analysis a version token, so a check-in recomputes only the sessions it touches, prepared before it takes the write lock

Revision ID: 0012_change_totals
Revises: 0011_audit_patients
Create Date: 2026-12-02

Existing rows keep NULL in both: the next check-in of a patient whose rows lack them
refreshes their whole analysis (stored_analysis.plan_checkin), which fills them in. Nothing
is emptied.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_change_totals'
down_revision = '0011_audit_patients'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('treatment_results') as batch:
        batch.add_column(sa.Column('change_totals', sa.Text(), nullable=True))
    with op.batch_alter_table('patient_analyses') as batch:
        batch.add_column(sa.Column('version', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('patient_analyses') as batch:
        batch.drop_column('version')
    with op.batch_alter_table('treatment_results') as batch:
        batch.drop_column('change_totals')
