"""Flask's session kept on the server (web_sessions): the cookie carries only a random token

Revision ID: 0009_web_sessions
Revises: 0008_outbox
Create Date: 2026-12-02

Cookies issued before this change are signed cookies, not tokens: they are refused, so every
browser is signed out once and signs in again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_web_sessions'
down_revision = '0008_outbox'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    )
    op.create_index(op.f('ix_web_sessions_expires_at'), 'web_sessions', ['expires_at'])


def downgrade():
    op.drop_index(op.f('ix_web_sessions_expires_at'), table_name='web_sessions')
    op.drop_table('web_sessions')
