"""Where demo debtors live and what they are called: places with their numbering ranges and
time zones, Russian and English names, creditors, the dispositions of past calls."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    country: str
    region: str
    city: str
    timezone: str
    prefixes: tuple[str, ...]  # E.164 prefixes of landline and mobile ranges
    digits: int  # digits after the prefix
    language: str
    streets: tuple[str, ...]


PLACES = (
    Place(
        "RU",
        "Moscow",
        "Moscow",
        "Europe/Moscow",
        ("+7495", "+7499", "+7916", "+7903"),
        7,
        "ru",
        ("ul. Tverskaya", "Leninsky pr.", "ul. Arbat"),
    ),
    Place(
        "RU",
        "Sverdlovsk Oblast",
        "Yekaterinburg",
        "Asia/Yekaterinburg",
        ("+7343", "+7912"),
        7,
        "ru",
        ("ul. Malysheva", "pr. Lenina"),
    ),
    Place(
        "RU",
        "Novosibirsk Oblast",
        "Novosibirsk",
        "Asia/Novosibirsk",
        ("+7383", "+7913"),
        7,
        "ru",
        ("Krasny pr.", "ul. Frunze"),
    ),
    Place(
        "RU",
        "Primorsky Krai",
        "Vladivostok",
        "Asia/Vladivostok",
        ("+7423", "+7914"),
        7,
        "ru",
        ("ul. Svetlanskaya", "Okeansky pr."),
    ),
    Place(
        "GB",
        "England",
        "London",
        "Europe/London",
        ("+4420", "+447700", "+447911"),
        8,
        "en",
        ("High Street", "Station Road", "Church Lane"),
    ),
    Place(
        "GB",
        "England",
        "Manchester",
        "Europe/London",
        ("+44161", "+447400"),
        7,
        "en",
        ("Oxford Road", "Deansgate"),
    ),
    Place(
        "US",
        "NY",
        "New York",
        "America/New_York",
        ("+1212", "+1646"),
        7,
        "en",
        ("Broadway", "5th Avenue", "Lexington Ave"),
    ),
    Place(
        "US",
        "IL",
        "Chicago",
        "America/Chicago",
        ("+1312", "+1773"),
        7,
        "en",
        ("Michigan Ave", "State St"),
    ),
    Place(
        "US",
        "CA",
        "Los Angeles",
        "America/Los_Angeles",
        ("+1213", "+1310"),
        7,
        "en",
        ("Sunset Blvd", "Wilshire Blvd"),
    ),
)
RU_FIRST = (
    "Ivan",
    "Sergei",
    "Dmitry",
    "Alexei",
    "Olga",
    "Natalia",
    "Elena",
    "Anna",
    "Mikhail",
    "Tatiana",
    "Andrei",
    "Irina",
    "Pavel",
    "Svetlana",
    "Yuri",
    "Marina",
)
RU_LAST = (
    "Ivanov",
    "Petrov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Sokolov",
    "Lebedev",
    "Kozlov",
    "Novikov",
    "Morozov",
    "Volkov",
    "Fedorov",
    "Orlov",
    "Zaitsev",
)
EN_FIRST = (
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Sarah",
    "Thomas",
    "Emma",
    "Daniel",
    "Olivia",
    "George",
    "Amelia",
)
EN_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Miller",
    "Clark",
    "Walker",
    "Wright",
    "Hall",
)
CREDITORS = (
    "Acme Bank",
    "Northwind Credit",
    "Volga Finance",
    "Contoso Telecom",
    "Baltic Utilities",
)
DISPOSITIONS = (
    "right_party_contact",
    "promise_to_pay",
    "no_answer",
    "wrong_number",
    "refused",
    "callback",
    "dispute",
)
