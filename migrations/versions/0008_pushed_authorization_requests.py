"""pushed authorization requests (RFC 9126)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pushed_authorization_requests',
    sa.Column('request_uri_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], name=op.f('fk_pushed_authorization_requests_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_uri_hash', name=op.f('pk_pushed_authorization_requests'))
    )
    with op.batch_alter_table('pushed_authorization_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pushed_authorization_requests_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pushed_authorization_requests_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('pushed_authorization_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pushed_authorization_requests_expires_at'))
        batch_op.drop_index(batch_op.f('ix_pushed_authorization_requests_client_id'))

    op.drop_table('pushed_authorization_requests')
