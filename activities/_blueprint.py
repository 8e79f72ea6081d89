"""Blueprint of the activity layer (samples for now)."""

import azure.durable_functions as df

blueprint = df.Blueprint()


@blueprint.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@blueprint.activity_trigger(input_name="text")
def measure(text: str) -> int:
    return len(text)
