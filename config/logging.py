import logging


class DropMessagesContaining(logging.Filter):
    """Drops log records whose message contains `text` (a known, harmless notice repeated on every call)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()
