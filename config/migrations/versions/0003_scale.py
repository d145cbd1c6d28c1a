"""scene_member by dataset: reverse matching finds the scenes a changed dataset is in

Revision ID: 0003_scale
Revises: 0002
Create Date: 2026-12-02 06:20:00
"""
from __future__ import annotations

from alembic import op

revision = '0003_scale'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_scene_member_dataset_id', 'scene_member', ['dataset_id'])


def downgrade() -> None:
    op.drop_index('ix_scene_member_dataset_id', table_name='scene_member')
