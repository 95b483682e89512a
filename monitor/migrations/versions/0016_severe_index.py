"""a partial index of the check-ins that report a severe side effect, for the triage
dashboard's flag: it finds them without reading every check-in of its window

Revision ID: 0016_severe_index
Revises: 0015_revision_keys
Create Date: 2026-12-07

The condition is the one monitor/models.py writes (SEVERE_SIDE_EFFECT_SQL), spelt out here so
that this migration stays what it was whatever the code later says.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_severe_index'
down_revision = '0015_revision_keys'
branch_labels = None
depends_on = None

SEVERE = ("se_dissociation = 3 OR se_dizziness = 3 OR se_nausea = 3 OR se_headache = 3 OR se_drowsiness = 3 "
          "OR se_bladder = 3 OR se_vision = 3")


def upgrade():
    op.create_index('ix_checkins_severe', 'checkins', ['patient_id', 'local_date'],
                    sqlite_where=sa.text(SEVERE), postgresql_where=sa.text(SEVERE))


def downgrade():
    op.drop_index('ix_checkins_severe', table_name='checkins')
