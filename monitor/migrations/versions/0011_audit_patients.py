"""the patients an audited list showed (audit_event_patients, append-only) and an index on audit targets

Revision ID: 0011_audit_patients
Revises: 0010_secrets_at_rest
Create Date: 2026-12-02

A dashboard page, a report page or an export is audited with the ids of the patients it
showed, one row each in audit_event_patients, so that "who saw patient X" is answered from
the audit log alone (monitor/audit.py). Like audit_events (migration 0004) the new table is
append-only in the database itself. Events written before this migration keep their counts
only.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_audit_patients'
down_revision = '0010_secrets_at_rest'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_event_patients',
        sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('patient_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['audit_events.id'],
                                name=op.f('fk_audit_event_patients_event_id_audit_events')),
        # A page of events' patients: a range of the primary key each.
        sa.PrimaryKeyConstraint('event_id', 'patient_id', name=op.f('pk_audit_event_patients')),
    )
    # The viewer's patient filter: a range of this index, which holds the event ids it needs.
    op.create_index('ix_audit_event_patients_patient', 'audit_event_patients', ['patient_id', 'event_id'])
    # Not batch mode: on SQLite that would copy audit_events and drop its append-only triggers.
    op.create_index('ix_audit_events_target', 'audit_events', ['target_id', 'target_type'])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_event_patients_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event_patients is append-only';
            END;
            $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER audit_event_patients_append_only BEFORE UPDATE OR DELETE ON audit_event_patients
            FOR EACH ROW EXECUTE FUNCTION audit_event_patients_append_only()
        """)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_event_patients_no_{event.lower()} BEFORE {event} ON audit_event_patients
                BEGIN SELECT RAISE(ABORT, 'audit_event_patients is append-only'); END
            """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_patients_append_only ON audit_event_patients")
        op.execute("DROP FUNCTION IF EXISTS audit_event_patients_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_patients_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_patients_no_delete")
    op.drop_index('ix_audit_events_target', table_name='audit_events')
    op.drop_index('ix_audit_event_patients_patient', table_name='audit_event_patients')
    op.drop_table('audit_event_patients')
