"""grants become authorizations: "grant" means the OAuth grant type only

The stored record of what a user (or a client, for itself) authorised was called a grant, the
same word as the OAuth grant types. Table ``grants`` becomes ``authorizations`` and every
``grant_id`` column becomes ``authorization_id``; indexes and constraints follow the naming
convention. Access tokens keep their ``gid`` claim (tokens already issued stay valid).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# (table, index columns) of the indexes named after the old words.
_TABLE_INDEXES = [('client_id',), ('expires_at',)]
_CHILDREN = [('authorization_codes', True), ('refresh_tokens', True), ('device_codes', False)]


def _rename(old_table, new_table, old_column, new_column):
    """Rename the table, the child columns, and every index and constraint named after them."""
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.rename_table(old_table, new_table)
    for name in ('client_id', 'expires_at'):
        _rename_index(f'ix_{old_table}_{name}', f'ix_{new_table}_{name}', new_table, [name], postgres)
    _rename_index(f'ix_{old_table}_user_id_client_id', f'ix_{new_table}_user_id_client_id',
                  new_table, ['user_id', 'client_id'], postgres)
    if postgres:
        op.execute(f'ALTER TABLE {new_table} RENAME CONSTRAINT pk_{old_table} TO pk_{new_table}')
        for column, target in (('client_id', 'clients'), ('user_id', 'users')):
            op.execute(f'ALTER TABLE {new_table} RENAME CONSTRAINT '
                       f'fk_{old_table}_{column}_{target} TO fk_{new_table}_{column}_{target}')
    for child, indexed in _CHILDREN:
        op.alter_column(child, old_column, new_column_name=new_column) if postgres else op.execute(
            f'ALTER TABLE {child} RENAME COLUMN {old_column} TO {new_column}')
        if indexed:
            _rename_index(f'ix_{child}_{old_column}', f'ix_{child}_{new_column}',
                          child, [new_column], postgres)
        if postgres:
            op.execute(f'ALTER TABLE {child} RENAME CONSTRAINT fk_{child}_{old_column}_{old_table} '
                       f'TO fk_{child}_{new_column}_{new_table}')


def _rename_index(old, new, table, columns, postgres):
    if postgres:
        op.execute(f'ALTER INDEX {old} RENAME TO {new}')
    else:  # SQLite has no ALTER INDEX
        op.drop_index(old, table_name=table)
        op.create_index(new, table, columns, unique=False)


def upgrade():
    _rename('grants', 'authorizations', 'grant_id', 'authorization_id')


def downgrade():
    _rename('authorizations', 'grants', 'authorization_id', 'grant_id')
