"""grants become authorizations: "grant" means the OAuth grant type only

The stored record of what a user (or a client, for itself) authorised was called a grant, the
same word as the OAuth grant types. Table ``grants`` becomes ``authorizations`` and every
``grant_id`` column becomes ``authorization_id``, with their indexes. Access tokens keep their
``gid`` claim, so tokens already issued stay valid.

PostgreSQL renames the primary and foreign keys too. SQLite keeps their old names inside its
table definitions: renaming them means rebuilding the tables, and rebuilding ``authorizations``
with foreign keys on would cascade-delete every token that points at it. A later migration
that drops one of those constraints by name on SQLite uses the old name.

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

# Tables whose column points at the record, and whether that column is indexed.
_CHILDREN = [('authorization_codes', True), ('refresh_tokens', True), ('device_codes', False)]
# The record's own indexes: name suffix -> columns.
_INDEXES = {'client_id': ['client_id'], 'expires_at': ['expires_at'],
            'user_id_client_id': ['user_id', 'client_id']}


def _rename(old, new, old_column, new_column):
    """Table ``old`` -> ``new`` and each child's ``old_column`` -> ``new_column``, with the
    indexes (and on PostgreSQL the constraints) named after them."""
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.rename_table(old, new)  # SQLite >= 3.26 rewrites the children's references
    for suffix, columns in _INDEXES.items():
        _rename_index(f'ix_{old}_{suffix}', f'ix_{new}_{suffix}', new, columns, postgres)
    if postgres:
        op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}')
        for column, target in (('client_id', 'clients'), ('user_id', 'users')):
            op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT '
                       f'fk_{old}_{column}_{target} TO fk_{new}_{column}_{target}')
    for child, indexed in _CHILDREN:
        op.execute(f'ALTER TABLE {child} RENAME COLUMN {old_column} TO {new_column}')
        if indexed:
            _rename_index(f'ix_{child}_{old_column}', f'ix_{child}_{new_column}',
                          child, [new_column], postgres)
        if postgres:
            op.execute(f'ALTER TABLE {child} RENAME CONSTRAINT fk_{child}_{old_column}_{old} '
                       f'TO fk_{child}_{new_column}_{new}')


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
