"""dataset.region_path: where a dataset's region sits (province → city → district)

Existing rows start with an empty path (placed by their region's name alone);
``scenewatch reindex`` (run by ``init`` when the search index is rebuilt) fills every
path from the region and the source's portal.

Revision ID: 0009_region_path
Revises: 0008_scale
Create Date: 2026-12-02 10:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_region_path'
down_revision = '0008_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_path', sa.JSON(), nullable=False,
                                      server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('region_path')
