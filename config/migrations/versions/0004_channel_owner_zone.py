"""channel carries its owner's time zone

Revision ID: 0004_channel_zone
Revises: 0003_sources
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_channel_zone'
down_revision = '0003_sources'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The delivery side renders times in the owner's zone without reading the account.
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=False,
                                      server_default='Asia/Shanghai'))
    op.execute("UPDATE channel SET timezone = (SELECT user_account.timezone FROM user_account "
               "WHERE user_account.id = channel.owner_id) "
               "WHERE EXISTS (SELECT 1 FROM user_account WHERE user_account.id = channel.owner_id "
               "AND user_account.timezone IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_column('timezone')
