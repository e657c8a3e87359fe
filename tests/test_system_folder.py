"""The system folder against a bucket in memory: each file written once, under the
run's number, only when it changed; a number another writer took is never
overwritten. (Bootstrap from it, through doit and S3: tests/e2e/test_system_folder.py.)"""

from glacier_tasks.bucket import system_folder as system
from glacier_tasks.bucket.memory import MemoryStore
from glacier_tasks.formats import layout
from glacier_tasks.run import load_run
from tests.test_run import make_config


class RacingStore(MemoryStore):
    """Right after each of our listings (up to `races` times), another writer of this
    folder takes the number we are about to write."""

    def __init__(self, races: int, year: int, host: str):
        super().__init__()
        self.races, self.year, self.host = races, year, host

    def list_objects(self, prefix: str = "") -> dict:
        found = super().list_objects(prefix)
        if self.races:
            self.races -= 1
            number = layout.next_system_number(found, self.year, self.host)
            self.put_bytes(layout.system_key(self.year, "list.txt", self.host, number),
                           b"theirs\n", "STANDARD", {})
        return found


def settings_of(tmp_path, monkeypatch):
    monkeypatch.setenv("GLACIER_TODAY", "2027-01-15")
    load_run.cache_clear()
    run = load_run(str(make_config(tmp_path / "conf", [str(tmp_path / "data")])))
    run.settings.inventory_file.parent.mkdir(parents=True, exist_ok=True)
    run.settings.inventory_file.write_text('{"version": 1, "atoms": {}, "bags": {}}\n')
    return run.settings


def test_each_file_is_sent_once_and_again_only_when_it_changed(tmp_path, monkeypatch):
    settings = settings_of(tmp_path, monkeypatch)
    store, folder = MemoryStore(), layout.system_prefix(2027, settings.host)
    sent = system.upload_system(settings, store, 2027)
    assert len(sent) == 4 and all(k.startswith(folder) for k in sent)
    assert system.upload_system(settings, store, 2027) == []
    settings.list_file.write_text("# changed\n")
    assert system.upload_system(settings, store, 2027) == [f"{folder}list.000002.txt"]
    assert store.get_bytes(f"{folder}list.000002.txt") == b"# changed\n"


def test_a_number_another_writer_took_is_never_overwritten(tmp_path, monkeypatch):
    settings = settings_of(tmp_path, monkeypatch)
    store = RacingStore(1, 2027, settings.host)
    folder = layout.system_prefix(2027, settings.host)
    sent = system.upload_system(settings, store, 2027)
    assert store.get_bytes(f"{folder}list.000001.txt") == b"theirs\n"
    assert f"{folder}list.000002.txt" in sent  # ours, under the next number
    assert store.get_bytes(f"{folder}list.000002.txt") == settings.list_file.read_bytes()
