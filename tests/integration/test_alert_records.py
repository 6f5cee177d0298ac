"""The alerts index keeps what others wrote when the worker records an alert again."""
from newswatch.connectors.alert_records import AlertRecords
from newswatch.connectors.search import SearchBackend
from newswatch.pipelines.streaming import prepare


def test_recording_an_alert_again_keeps_its_acknowledgement(settings):
    prepare(settings)
    records = AlertRecords(SearchBackend(settings.search))
    records.save([{"id": "a1", "status": "retrying", "decided_at": "2026-11-25T08:00:00Z", "attempts": 1}])
    SearchBackend(settings.search).client.update(index=settings.search.alerts_index, id="a1", refresh="true",
                                                 body={"doc": {"acknowledged_at": "2026-11-25T08:01:00Z"}})
    records.save([{"id": "a1", "status": "delivered", "attempts": 2}])  # the retry settles
    (stored,) = records.existing(["a1"]).values()
    assert stored["status"] == "delivered" and stored["attempts"] == 2
    assert stored["acknowledged_at"] == "2026-11-25T08:01:00Z" and stored["decided_at"] == "2026-11-25T08:00:00Z"
