"""DPoP: used proof ids, refresh tokens bound to a key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_dpop_proofs',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_used_dpop_proofs'))
    )
    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_dpop_proofs_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')

    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')

    with op.batch_alter_table('used_dpop_proofs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_dpop_proofs_expires_at'))

    op.drop_table('used_dpop_proofs')
