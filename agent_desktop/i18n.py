"""Interface text in English and Russian, chosen by the signed-in user's stored language."""

from __future__ import annotations

from typing import Any

import jinja2
from aiohttp import web

LANGUAGES = ("en", "ru")

# key -> (English, Russian)
TEXT: dict[str, tuple[str, str]] = {
    "app": ("Callboard", "Callboard"),
    "sign_in": ("Sign in", "Войти"),
    "sign_out": ("Sign out", "Выйти"),
    "username": ("User name", "Имя пользователя"),
    "password": ("Password", "Пароль"),
    "bad_login": ("Wrong user name or password.", "Неверное имя пользователя или пароль."),
    "throttled": (
        "Too many attempts. Try again in {s} s.",
        "Слишком много попыток. Повторите через {s} с.",
    ),
    "desk": ("Desk", "Рабочее место"),
    "supervisor": ("Supervisor", "Супервизор"),
    "wallboard": ("Wallboard", "Табло"),
    "ready": ("Ready", "Готов"),
    "pause": ("Pause", "Пауза"),
    "paused": ("Paused", "Пауза"),
    "logged_out": ("Logged out", "Не в системе"),
    "reserved": ("Offered", "Назначен"),
    "ringing": ("Ringing", "Звонит"),
    "on_call": ("On call", "Разговор"),
    "wrap_up": ("Wrap-up", "Постобработка"),
    "log_in": ("Log in", "Начать смену"),
    "log_out": ("Log out", "Завершить смену"),
    "reason": ("Reason", "Причина"),
    "calls_today": ("Calls", "Звонки"),
    "talk_today": ("Talk", "Разговор"),
    "promises_today": ("Promises", "Обещания"),
    "promised_today": ("Promised", "Обещано"),
    "waiting_call": ("Waiting for a call", "Ожидание звонка"),
    "caller": ("Caller", "Абонент"),
    "matched_by": ("Matched by", "Найден по"),
    "unknown_caller": ("Unknown caller", "Неизвестный абонент"),
    "balance": ("Balance", "Остаток"),
    "debts": ("Debts", "Долги"),
    "creditor": ("Creditor", "Кредитор"),
    "reference": ("Reference", "Договор"),
    "principal": ("Principal", "Основной долг"),
    "dpd": ("DPD", "Просрочка, дн."),
    "status": ("Status", "Статус"),
    "payments": ("Last payments", "Последние платежи"),
    "promises": ("Promises", "Обещания"),
    "history": ("Previous contacts", "История контактов"),
    "tasks": ("Open tasks", "Открытые задачи"),
    "ivr": ("IVR", "IVR"),
    "kind": ("Type", "Тип"),
    "digits": ("Digits", "Введено"),
    "recordings": ("Recordings", "Записи"),
    # recordings (agent_desktop.recordings_views, static/recordings.js)
    "rec_search": ("Search calls", "Поиск по разговорам"),
    "rec_search_hint": ("Words said in the call", "Слова из разговора"),
    "rec_no_hits": ("Nothing found.", "Ничего не найдено."),
    "rec_play": ("Play", "Слушать"),
    "rec_download": ("Download", "Скачать"),
    "rec_not_yours": ("Not your call", "Не ваш звонок"),
    "rec_no_transcript": ("Not transcribed yet.", "Расшифровки пока нет."),
    "rec_paused": ("recording paused", "запись приостановлена"),
    "rec_alerts": ("Recording alerts", "Проблемы записей"),
    "rec_flagged": ("Keyword flags, recent calls", "Ключевые слова в последних звонках"),
    "rec_problem": ("Problem", "Проблема"),
    "rec_checks": ("Checks", "Проверок"),
    "rec_next_check": ("Next check", "Следующая проверка"),
    "rec_file": ("File", "Файл"),
    "rec_flags": ("Keywords", "Ключевые слова"),
    "hangup": ("Hang up", "Завершить"),
    "hold": ("Hold", "Удержание"),
    "resume": ("Resume", "Вернуть"),
    "transfer": ("Transfer", "Перевод"),
    "consult": ("Consult", "Консультация"),
    "dtmf": ("Keypad", "Тональный набор"),
    "dial": ("Call", "Позвонить"),
    "number": ("Number", "Номер"),
    "to_queue": ("To queue", "В очередь"),
    "to_operator": ("To operator", "Оператору"),
    "disposition": ("Disposition", "Результат"),
    "notes": ("Notes", "Заметки"),
    "amount": ("Amount", "Сумма"),
    "date": ("Date", "Дата"),
    "time": ("Time", "Время"),
    "debt": ("Debt", "Долг"),
    "assign_to": ("Assign to", "Назначить"),
    "me": ("Me", "Мне"),
    "queue": ("Queue", "Очередь"),
    "save": ("Save", "Сохранить"),
    "saved": ("Saved", "Сохранено"),
    "disposition_required": (
        "Save a disposition before leaving wrap-up.",
        "Сохраните результат звонка перед выходом из постобработки.",
    ),
    "callbacks": ("Callbacks", "Перезвоны"),
    "overdue": ("overdue", "просрочен"),
    "due": ("due", "к сроку"),
    "search": ("Search", "Поиск"),
    "search_hint": ("Name, phone or reference", "Имя, телефон или договор"),
    "new_contact": ("New contact", "Новый контакт"),
    "first_name": ("First name", "Имя"),
    "last_name": ("Last name", "Фамилия"),
    "create": ("Create", "Создать"),
    "open": ("Open", "Открыть"),
    "bind": ("This caller", "Это абонент"),
    "read_only_tab": (
        "This tab is read-only: calls are handled in another tab.",
        "Эта вкладка только для просмотра: звонки обрабатываются в другой вкладке.",
    ),
    "take_over": ("Handle calls here", "Работать в этой вкладке"),
    "reconnecting": ("Connection lost, reconnecting…", "Связь потеряна, переподключение…"),
    "signed_out": ("You were signed out.", "Вы вышли из системы."),
    "too_many_tabs": (
        "Too many tabs open: close one, this tab will reconnect.",
        "Открыто слишком много вкладок: закройте одну, эта переподключится.",
    ),
    "queues": ("Queues", "Очереди"),
    "agents": ("Agents", "Операторы"),
    "campaigns": ("Campaigns", "Кампании"),
    "campaigns_soon": (
        "Campaign control arrives with the dialer.",
        "Управление кампаниями появится вместе с автодозвоном.",
    ),
    "cmp_dialer_on": ("dialer connected", "автодозвон подключён"),
    "cmp_dialer_off": ("dialer not connected", "автодозвон не подключён"),
    "cmp_attempts": ("Attempts", "Попытки"),
    "cmp_contacts": ("Contacts", "Контакты"),
    "cmp_rpc": ("RPC", "С должником"),
    "cmp_abandon_24h": ("Abandoned 24 h", "Брошено 24 ч"),
    "cmp_abandon_30d": ("Abandoned 30 d", "Брошено 30 дн"),
    "cmp_dial_level": ("Lines/op", "Линий/опер."),
    "cmp_lines": ("Lines", "Линии"),
    "cmp_list_left": ("List left", "Осталось"),
    "cmp_start": ("Start", "Запустить"),
    "cmp_stop": ("Stop", "Остановить"),
    "cmp_reason_needed": ("Enter a reason first.", "Сначала укажите причину."),
    "cmp_denials": ("Refused manual dials", "Запрещённые ручные звонки"),
    "cmp_rule": ("Rule", "Правило"),
    "cmp_approve": ("Approve once", "Разрешить один раз"),
    "cmp_approved": ("Approved for 15 min", "Разрешено на 15 мин"),
    "cmp_running": ("Running", "Идёт"),
    "cmp_stopped": ("Stopped", "Остановлена"),
    "cmp_finished": ("Finished", "Завершена"),
    "cmp_not_dialled": (
        "Not dialled (failed at the PBX, not counted)",
        "Не набрано (сбой АТС, не считается)",
    ),
    "cmp_pbx_failures": ("PBX failures in a row", "Сбоев АТС подряд"),
    "waiting": ("Waiting", "Ждут"),
    "longest": ("Longest", "Дольше всех"),
    "sl_today": ("SL today", "SL сегодня"),
    "sl_30m": ("SL 30 min", "SL 30 мин"),
    "abandoned": ("Abandoned", "Потеряно"),
    "asa": ("ASA", "ASA"),
    "busy": ("Busy", "Заняты"),
    "agent": ("Agent", "Оператор"),
    "state": ("State", "Состояние"),
    "in_state": ("In state", "В состоянии"),
    "party": ("Party", "Собеседник"),
    "handle_time": ("Handle time", "Время обработки"),
    "listen": ("Listen", "Слушать"),
    "whisper": ("Whisper", "Суфлёр"),
    "barge": ("Barge", "Вмешаться"),
    "force_pause": ("Pause", "Пауза"),
    "force_logout": ("Log out", "Вывести"),
    "answered": ("Answered", "Отвечено"),
    "offered": ("Offered", "Поступило"),
    "chart": ("Waiting calls and service level, last hour", "Ожидающие и SL за последний час"),
    "shortcuts": ("Shortcuts", "Клавиши"),
    "error": ("Error", "Ошибка"),
    "none": ("None", "Нет"),
    "today": ("Today", "Сегодня"),
    "name": ("Name", "Имя"),
    "promise": ("Promise", "Обещание"),
    "instalment": ("Instalment", "Платёж по графику"),
    "instalments": ("Instalments", "График платежей"),
    "payment_plan": ("Payment plan (instalments)", "График платежей (рассрочка)"),
    "add_instalment": ("Add instalment", "Добавить платёж"),
    "plans": ("Payment plans", "Графики платежей"),
    "post_payment": ("Post a payment", "Внести платёж"),
    "method": ("Method", "Способ"),
    "payment_reference": ("Payment reference", "Номер платежа"),
    "payment_posted": ("Payment posted", "Платёж внесён"),
    "collections_due": ("Promises and instalments", "Обещания и платежи по графикам"),
    "due_today": ("Due today", "Срок сегодня"),
    "broken_yesterday": ("Missed yesterday", "Пропущены вчера"),
}


def text(key: str, language: str) -> str:
    en, ru = TEXT[key]
    return ru if language == "ru" else en


def bundle(language: str) -> dict[str, str]:
    """Every string, for the browser's JS (shipped as a JSON data block, not a script)."""
    return {key: text(key, language) for key in TEXT}


class Renderer:
    """Jinja2 pages from the package's templates, autoescaped, in the user's language."""

    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("agent_desktop", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            enable_async=False,
        )
        self._env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}

    def page(self, name: str, language: str, *, status: int = 200, **context: Any) -> web.Response:
        language = language if language in LANGUAGES else "en"
        html = self._env.get_template(name).render(
            lang=language,
            t=lambda key, **kw: text(key, language).format(**kw),
            strings=bundle(language),
            **context,
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
