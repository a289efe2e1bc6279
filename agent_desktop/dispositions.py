"""Disposition codes an operator picks at wrap-up, and what each one asks for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DispositionCode:
    code: str
    label_en: str
    label_ru: str
    needs_promise: bool = False  # a promise to pay (amount, date) must be given
    needs_callback: bool = False  # a callback time must be given
    right_party: bool = False  # a conversation with the debtor (counts for contact rules)

    def label(self, language: str) -> str:
        return self.label_ru if language == "ru" else self.label_en


DEFAULT_DISPOSITIONS: tuple[DispositionCode, ...] = (
    DispositionCode("rpc", "Right party contact", "Контакт с должником", right_party=True),
    DispositionCode(
        "ptp", "Promise to pay", "Обещание оплаты", needs_promise=True, right_party=True
    ),
    DispositionCode("callback", "Callback", "Перезвонить", needs_callback=True, right_party=True),
    DispositionCode("refused", "Refused to pay", "Отказ от оплаты", right_party=True),
    DispositionCode("dispute", "Dispute", "Оспаривает долг", right_party=True),
    DispositionCode("wrong_number", "Wrong number", "Неверный номер"),
    DispositionCode("deceased", "Deceased", "Умер"),
    DispositionCode("bankrupt", "Bankrupt", "Банкрот"),
)


def by_code(codes: tuple[DispositionCode, ...], code: str) -> DispositionCode | None:
    return next((c for c in codes if c.code == code), None)
