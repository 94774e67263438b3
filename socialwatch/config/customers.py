"""The ``[customers]`` section: which watched accounts belong to which brand, so customers stay apart.

One customer may write on X, Facebook and Instagram; their identities are linked into one history.
A company watching two brands may not want a customer of one mixed with the other's: ``brands`` groups
the accounts, and identities are linked only within one brand. By default every account is one brand.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, Field, field_validator

from socialwatch.config.section import Section


class CustomersConfig(Section):
    brands: dict[str, list[str]] = Field(
        default_factory=dict,
        description="brand name -> the account names (any platform) that belong to it; empty: one brand",
    )

    @field_validator("brands")
    @classmethod
    def _each_account_once(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for brand, accounts in value.items():
            if not accounts:
                raise ValueError(f"brand {brand!r} lists no accounts; list its account names or remove it")
            for account in accounts:
                if account in seen and seen[account] != brand:
                    raise ValueError(
                        f"account {account!r} is in two brands ({seen[account]!r} and {brand!r}); "
                        "an account belongs to one brand"
                    )
                seen[account] = brand
        return value

    def brand_of(self, account: str) -> str:
        """The brand an account belongs to; "" when brands are not configured (one brand). An account no
        longer configured (items stored before it was removed) is a brand of its own: kept apart."""
        if not self.brands:
            return ""
        for brand, accounts in self.brands.items():
            if account in accounts:
                return brand
        return f"account:{account}"

    def accounts_of(self, account: str) -> frozenset[str] | None:
        """Every account of ``account``'s brand; None when there is one brand (every account)."""
        if not self.brands:
            return None
        brand = self.brand_of(account)
        return frozenset(self.brands.get(brand, [account]))


def account_names(config: BaseModel) -> Iterator[str]:
    """The name of every watched account, whatever its platform: each list of named sections in the
    config (``[[replay]]``) or in one of its sections (``[[x.accounts]]``, ``[[facebook.pages]]``...)."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        groups = [value] if isinstance(value, list) else []
        if isinstance(value, BaseModel):
            groups += [getattr(value, inner) for inner in type(value).model_fields]
        for group in groups:
            if isinstance(group, list):
                yield from (entry.name for entry in group if isinstance(entry, BaseModel) and hasattr(entry, "name"))


def check_brands(config: BaseModel, customers: CustomersConfig) -> None:
    """Every account named in a brand exists, and with brands configured every account is in one."""
    if not customers.brands:
        return
    known = set(account_names(config))
    listed = {account for accounts in customers.brands.values() for account in accounts}
    unknown = sorted(listed - known)
    if unknown:
        raise ValueError(
            f"customers.brands names {unknown}, which no [[x.accounts]], [[facebook.pages]] or [[replay]] "
            f"entry is called; configured accounts: {sorted(known)}"
        )
    orphans = sorted(known - listed)
    if orphans:
        raise ValueError(
            f"customers.brands: accounts {orphans} belong to no brand; add each to one brand "
            "(with brands configured, customers are only linked within a brand)"
        )
