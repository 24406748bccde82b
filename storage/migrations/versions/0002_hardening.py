"""hardening: outbox priority, leases, sent message ids and refs; poison updates; staff grants before
their first message; barrio contacts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_message_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('ref', sa.String(length=48), nullable=True))
        batch_op.create_index('ix_outbox_queue', ['status', 'priority', 'id'], unique=False)
        batch_op.create_index('ix_outbox_chat_order', ['chat_id', 'status', 'priority', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_ref'), ['ref'], unique=False)

    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=False, server_default='applied'))
        batch_op.add_column(sa.Column('deliver_by', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('telegram_user_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_role_grant_telegram_user_id'), ['telegram_user_id'], unique=False)

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_basis', sa.String(length=16), nullable=False, server_default='consent'))

    with op.batch_alter_table('barrio', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('barrio', schema=None) as batch_op:
        batch_op.drop_column('contact')
    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_column('legal_basis')
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_grant_telegram_user_id'))
        batch_op.drop_column('telegram_user_id')
        batch_op.alter_column('resident_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.drop_column('deliver_by')
        batch_op.drop_column('outcome')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_ref'))
        batch_op.drop_index('ix_outbox_chat_order')
        batch_op.drop_index('ix_outbox_queue')
        batch_op.drop_column('ref')
        batch_op.drop_column('sent_message_id')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('priority')
