"""One Kafka message in, one outcome out: decode -> validate -> normalise."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Union

from .normalize import Reading, normalise
from .schema import Rejection, decode, parse_event


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    value: Optional[bytes]


def process(message: Message, now: datetime) -> Union[Reading, Rejection]:
    doc = decode(message.value)
    if isinstance(doc, Rejection):
        return doc
    event = parse_event(doc)
    if isinstance(event, Rejection):
        return event
    return normalise(event, now)
