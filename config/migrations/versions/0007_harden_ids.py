"""ids never reused on SQLite; scene run claim; server-side login sessions

Revision ID: 0007_harden
Revises: 0006_channel_owner_email
Create Date: 2026-12-02 06:40:00

SQLite hands out a freed highest rowid again unless the table is AUTOINCREMENT: a
deleted scene's id (and its runs' and channels' ids) went to the next user's objects,
and old signed links named them. Each table with an integer id is rebuilt with
AUTOINCREMENT (rows and ids kept; config.migrate runs this with foreign keys off so
the rebuild cascades nothing). PostgreSQL sequences never go back: nothing to do there.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_harden'
down_revision = '0006_channel_owner_email'
branch_labels = None
depends_on = None


def _integer_id_tables() -> list[str]:
    """Every model table whose primary key is an integer ``id`` (the tables that hand
    out ids; the search index's own tables in the same SQLite file are not ours)."""
    from config.extensions import Base

    inspector = sa.inspect(op.get_bind())
    names = []
    for name in inspector.get_table_names():
        if name not in Base.metadata.tables:
            continue
        key = inspector.get_pk_constraint(name).get('constrained_columns') or []
        columns = {c['name']: c for c in inspector.get_columns(name)}
        if key == ['id'] and isinstance(columns['id']['type'], sa.Integer):
            names.append(name)
    return sorted(names)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        for name in _integer_id_tables():
            with op.batch_alter_table(name, recreate='always',
                                      table_kwargs={'sqlite_autoincrement': True}):
                pass
    with op.batch_alter_table('scene', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_claimed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'login_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                                name=op.f('fk_login_session_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_session_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('login_session')
    with op.batch_alter_table('scene', schema=None) as batch_op:
        batch_op.drop_column('run_claimed_at')
