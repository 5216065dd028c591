"""The message layer: queues with SQS semantics, dead-letter queues and topics."""
