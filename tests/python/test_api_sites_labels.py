"""The API model counts calls per call site (file:line) and per label, from the
v2 record's Site and Label fields."""
import callmonitor
from callmonitor.capture.settings import CONFIG


def test_api_counts_calls_per_call_site_and_per_session_label(recorder):
    callmonitor.close()
    callmonitor.configure(output=str(recorder.base), label="experiment-7")
    try:
        @callmonitor.intercept
        def scaled(x, factor=2):
            return x * factor

        for i in range(3):
            scaled(i)                      # one call site, three calls
        scaled(1.5, factor=3)              # another call site
        db = recorder.load()
        model = db.api()
        (fn,) = [f for f in model.functions.values() if f.name == "scaled"]
        sites = dict(fn.sites)
        assert sorted(sites.values()) == [1, 3]
        assert all(site.startswith(__file__ + ":") for site in sites)
        assert dict(fn.labels) == {"experiment-7": 4}
    finally:
        callmonitor.close()
        CONFIG.label = None  # back to the default (CALLMONITOR_LABEL, else none)
