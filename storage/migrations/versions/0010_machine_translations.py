"""machine translations cached per text and language

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'machine_translation',
        sa.Column('text_hash', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('target', sa.String(length=8), nullable=False),
        sa.Column('translated', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('text_hash', 'source', 'target'),
    )


def downgrade() -> None:
    op.drop_table('machine_translation')
