"""users: the previous time zone and when it changed, so a change past midnight skips no reminder

Revision ID: 0005_timezone_change
Revises: 0004_security
Create Date: 2026-11-26

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_timezone_change'
down_revision = '0004_security'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_timezone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('timezone_changed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timezone_changed_at')
        batch_op.drop_column('previous_timezone')
