"""channel carries its owner's account address

Revision ID: 0006_channel_owner_email
Revises: 0005_api_tokens
Create Date: 2026-12-02 07:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_channel_owner_email'
down_revision = '0005_api_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The delivery side writes to a channel's owner (a webhook answered 410) without
    # reading the account.
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_email', sa.String(length=320), nullable=True))
    op.execute("UPDATE channel SET owner_email = (SELECT user_account.email FROM user_account "
               "WHERE user_account.id = channel.owner_id)")


def downgrade() -> None:
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_column('owner_email')
