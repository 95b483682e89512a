"""study ids: each patient's random pseudonym in the research export, made on first export

Revision ID: 0014_study_ids
Revises: 0013_standard_gad7
Create Date: 2026-12-06

A new table: nothing existing changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_study_ids'
down_revision = '0013_standard_gad7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'study_ids',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('patient_id'),
        sa.UniqueConstraint('study_id'),
    )


def downgrade():
    op.drop_table('study_ids')
