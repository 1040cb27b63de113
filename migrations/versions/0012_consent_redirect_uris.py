"""consents remember the redirect URIs they were given for (SECURITY.md NA-02)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 02:00:00.000000

"""
import hashlib
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _digest(metadata):
    """Client.redirect_uris_digest as of this revision (kept here: the model may change)."""
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    uris = sorted(set((metadata or {}).get('redirect_uris', [])))
    return hashlib.sha256('\n'.join(uris).encode()).hexdigest()


def upgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redirect_uris_digest', sa.String(length=64), nullable=True))
    # Existing consents were given for the client's current redirect URIs: keep them valid.
    bind = op.get_bind()
    clients = bind.execute(sa.text(
        'SELECT client_id, client_metadata FROM clients '
        'WHERE client_id IN (SELECT client_id FROM consents)'
    )).all()
    for client_id, metadata in clients:
        bind.execute(
            sa.text('UPDATE consents SET redirect_uris_digest = :digest WHERE client_id = :cid'),
            {'digest': _digest(metadata), 'cid': client_id},
        )


def downgrade():
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('redirect_uris_digest')
