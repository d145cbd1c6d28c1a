"""drop quality_report: nothing ever wrote or read users' accuracy reports

Revision ID: 0010_drop_quality_report
Revises: 0009_region_path
Create Date: 2026-12-02 10:40:00

A dataset's quality.accuracy is stored on the dataset itself (and kept across
harvests); the report table beside it was never used. The downgrade puts the empty
table back as 0001 made it, with AUTOINCREMENT on SQLite as 0007 left every table.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import config.extensions

revision = '0010_drop_quality_report'
down_revision = '0009_region_path'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_quality_report_dataset', table_name='quality_report')
    op.drop_table('quality_report')


def downgrade() -> None:
    op.create_table(
        'quality_report',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('dataset_id', sa.String(length=512), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('rating', sa.Float(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('created_at', config.extensions.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'],
                                name=op.f('fk_quality_report_dataset_id_dataset'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quality_report')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_quality_report_dataset', 'quality_report', ['dataset_id'])
