"""scene_member by dataset (reverse matching); compacted_at on runs and notifications (retention)

Revision ID: 0008_scale
Revises: 0007_harden
Create Date: 2026-12-02 06:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import config.extensions

revision = '0008_scale'
down_revision = '0007_harden'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_scene_member_dataset_id', 'scene_member', ['dataset_id'])
    with op.batch_alter_table('scene_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compacted_at', config.extensions.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compacted_at', config.extensions.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_column('compacted_at')
    with op.batch_alter_table('scene_run', schema=None) as batch_op:
        batch_op.drop_column('compacted_at')
    op.drop_index('ix_scene_member_dataset_id', table_name='scene_member')
