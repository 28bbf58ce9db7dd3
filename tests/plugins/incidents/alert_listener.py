"""A plugin that hears the incidents plugin's alerts and writes back to the timeline
(for the plugin-event tests of the incidents plugin)."""

from univac import Context, on
from univac.kit.alerts import Alert


@on("incidents.alert")
def heard(ctx: Context, event) -> None:
    alert = Alert.of_fields(event["alert"])
    kind = "alert" if alert.name == "Pretender" else "runbook"
    ctx.emit("incidents.timeline", incident=event["incident"], kind=kind,
             message=f"heard {alert.name} in {alert.environment} ({event['outcome']})")
