"""dynamic client registration: initial access tokens, registration access token hash

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registration_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uses_left', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_registration_tokens'))
    )
    with op.batch_alter_table('registration_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_tokens_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registration_token_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('registration_token_hash')

    with op.batch_alter_table('registration_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_tokens_expires_at'))

    op.drop_table('registration_tokens')
