"""an earlier version of a check-in keeps the submission key it was sent with, so a key sent
again after its check-in was replaced is recognised and cannot bring the old answers back

Revision ID: 0015_revision_keys
Revises: 0014_study_ids
Create Date: 2026-12-07

Existing revisions keep NULL: they were replaced before phones could queue check-ins.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_revision_keys'
down_revision = '0014_study_ids'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('checkin_revisions') as batch:
        batch.add_column(sa.Column('submission_key', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('checkin_revisions') as batch:
        batch.drop_column('submission_key')
