"""Delivering alert notifications to webhooks (Alertmanager's JSON), off the evaluation path.

Notifications are queued and sent by one background thread per receiver; a receiver that is
down is retried with backoff (1 s doubling to 60 s, 8 attempts) while evaluation goes on,
then the notification is dropped and counted as failed.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import httpx

from comind.observe.alerting import webhook_payload
from comind.observe.metrics import ALERT_NOTIFICATIONS

log = logging.getLogger("comind.alerting")
ATTEMPTS = 8
MAX_DELAY = 60.0


class WebhookNotifier:
    def __init__(self, urls: list[str], *, first_delay: float = 1.0) -> None:
        self.first_delay = first_delay
        self._stop = threading.Event()
        self._queues: list[queue.Queue[dict[str, Any]]] = []
        self._threads = []
        for url in urls:
            inbox: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
            self._queues.append(inbox)
            thread = threading.Thread(
                target=self._deliver, args=(url, inbox), name="comind-alert-webhook", daemon=True
            )
            self._threads.append(thread)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __call__(self, alerts: list[dict[str, Any]]) -> None:
        payload = webhook_payload(alerts)
        for inbox in self._queues:
            try:
                inbox.put_nowait(payload)
            except queue.Full:
                ALERT_NOTIFICATIONS.labels("dropped").inc()

    def _deliver(self, url: str, inbox: queue.Queue[dict[str, Any]]) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    payload = inbox.get(timeout=0.5)
                except queue.Empty:
                    continue
                ALERT_NOTIFICATIONS.labels(self._send(client, url, payload)).inc()

    def _send(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> str:
        delay = self.first_delay
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if client.post(url, json=payload).status_code < 300:
                    return "sent"
            except httpx.HTTPError as exc:
                log.debug("alert webhook %s attempt %d: %s", url, attempt, exc)
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, MAX_DELAY)
        log.warning("alert webhook %s: gave up after %d attempts", url, ATTEMPTS)
        return "failed"
