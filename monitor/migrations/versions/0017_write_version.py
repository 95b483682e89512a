"""the clinic's write version: one counter that every transaction writing what pages read
increments, so a worker can keep a page's inputs between views while it is unchanged

Revision ID: 0017_write_version
Revises: 0016_severe_index
Create Date: 2026-12-07
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_write_version'
down_revision = '0016_severe_index'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'write_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_write_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'n': 0, 'token': secrets.token_hex(16)}])


def downgrade():
    op.drop_table('write_version')
