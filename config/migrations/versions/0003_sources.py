"""sources: registered portals, richer harvest rows, admins

Revision ID: 0003_sources
Revises: 0002
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import config.extensions

revision = '0003_sources'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('mapping_path', sa.Text(), nullable=True),
    sa.Column('schedule', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('next_harvest_at', config.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('harvesting_since', config.extensions.UTCDateTime(timezone=True), nullable=True),
    sa.Column('etag', sa.String(length=512), nullable=True),
    sa.Column('last_modified', sa.String(length=128), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('created_at', config.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source')),
    sa.UniqueConstraint('name', name=op.f('uq_source_name'))
    )
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_next_harvest_at'), ['next_harvest_at'], unique=False)

    with op.batch_alter_table('harvest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('http_status', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('bytes_read', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('held_removals', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('trigger', sa.String(length=16), nullable=False,
                                      server_default='manual'))
    # Harvests recorded before this revision: done → ok, error → error.
    op.execute("UPDATE harvest SET status = 'ok' WHERE state = 'done'")
    op.execute("UPDATE harvest SET status = 'error' WHERE state = 'error'")

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    # Every source name already harvested becomes a (manual) source, with its last location.
    op.execute(
        "INSERT INTO source (name, format, location, schedule, timezone, headers, paused, state,"
        " created_at)"
        " SELECT h.source, 'auto', h.location, 'manual', 'UTC', '{}', false, '{}', h.started_at"
        " FROM harvest h WHERE h.id = (SELECT max(h2.id) FROM harvest h2 WHERE h2.source = h.source)"
    )


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('is_admin')
    with op.batch_alter_table('harvest', schema=None) as batch_op:
        batch_op.drop_column('trigger')
        batch_op.drop_column('held_removals')
        batch_op.drop_column('bytes_read')
        batch_op.drop_column('http_status')
        batch_op.drop_column('status')
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_next_harvest_at'))
    op.drop_table('source')
