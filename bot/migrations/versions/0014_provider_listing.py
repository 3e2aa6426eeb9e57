"""providers keep their listing current: service_listing, provider_setting, provider_check, provider_change,
listing_report (issue 14)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_listing",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("capacity", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("capacity_from", sa.Date(), nullable=True),
        sa.Column("capacity_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_on", sa.Date(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id"),
    )
    op.create_table(
        "provider_setting",
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("direct_changes", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "provider_check",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_provider_check_organization_id", "provider_check", ["organization_id"])
    op.create_table(
        "provider_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["proposed_by"], ["wijkbot_user.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by"], ["wijkbot_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("service_id", "organization_id", "status", "proposed_by", "decided_by"):
        op.create_index(f"ix_provider_change_{column}", "provider_change", [column])
    op.create_table(
        "listing_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_listing_report_service_id", "listing_report", ["service_id"])
    op.create_index("ix_listing_report_organization_id", "listing_report", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_listing_report_organization_id", table_name="listing_report")
    op.drop_index("ix_listing_report_service_id", table_name="listing_report")
    op.drop_table("listing_report")
    for column in ("service_id", "organization_id", "status", "proposed_by", "decided_by"):
        op.drop_index(f"ix_provider_change_{column}", table_name="provider_change")
    op.drop_table("provider_change")
    op.drop_index("ix_provider_check_organization_id", table_name="provider_check")
    op.drop_table("provider_check")
    op.drop_table("provider_setting")
    op.drop_table("service_listing")
