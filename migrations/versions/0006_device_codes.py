"""device codes (RFC 8628 device authorization grant)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 14:42:59.791522

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_codes',
    sa.Column('device_code_hash', sa.String(length=64), nullable=False),
    sa.Column('user_code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=1000), nullable=False),
    sa.Column('resource', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('grant_id', sa.String(length=32), nullable=True),
    sa.Column('auth_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interval', sa.Integer(), nullable=False),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], name=op.f('fk_device_codes_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grant_id'], ['grants.id'], name=op.f('fk_device_codes_grant_id_grants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_device_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_code_hash', name=op.f('pk_device_codes')),
    sa.UniqueConstraint('user_code_hash', name=op.f('uq_device_codes_user_code_hash'))
    )
    with op.batch_alter_table('device_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_codes_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_codes_expires_at'), ['expires_at'], unique=False)



def downgrade():
    with op.batch_alter_table('device_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_codes_expires_at'))
        batch_op.drop_index(batch_op.f('ix_device_codes_client_id'))

    op.drop_table('device_codes')
