"""per-user photo storage quota; the audiences a resource-server client serves

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 02:00:00.000000

``photos.bytes`` already records each stored file's size, so usage needs no backfill.
``clients.resource_audiences`` null means the photo API's audience (OAUTH_RESOURCE_AUDIENCE).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_quota_bytes', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resource_audiences', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('resource_audiences')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('storage_quota_bytes')
