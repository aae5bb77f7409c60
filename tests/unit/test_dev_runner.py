"""`make run`'s console: one line per email, no access-log line per static file."""
from gunicorn.config import Config
from gunicorn.workers.gthread import ThreadWorker

from scripts.dev import quiet, web_command
from scripts.mail_sink import mail_line

WERKZEUG = '127.0.0.1 - - [02/Dec/2026 11:10:13] "{request} HTTP/1.1" {status} -'
GUNICORN = '127.0.0.1 - - [02/Dec/2026:15:49:18 +0000] "{request} HTTP/1.1" {status} 2761 "-" "Mozilla/5.0"'


def test_the_web_app_runs_under_gunicorns_threaded_worker_with_room_for_chat_sockets():
    command = web_command("127.0.0.1", 5305, 64)
    assert command[1:3] == ["-m", "gunicorn"] and command[-1] == "webapp:create_app()"
    assert command[command.index("--worker-class") + 1] == "gthread"
    assert command[command.index("--threads") + 1] == "64"
    assert int(command[command.index("--worker-connections") + 1]) >= 64
    assert command[command.index("--bind") + 1] == "127.0.0.1:5305"


def test_gunicorn_takes_the_web_command_without_its_no_keepalive_warning():
    # `make run` printed "No keepalived connections can be handled" at every start: connections equalled threads.
    command = web_command("127.0.0.1", 5305, 64)
    cfg = Config()
    options = cfg.parser().parse_args(command[3:-1])
    for name, value in vars(options).items():
        if name in cfg.settings and value is not None:
            cfg.set(name, value)
    warnings: list[str] = []

    class Log:
        def warning(self, message, *args):
            warnings.append(message % args if args else message)

    ThreadWorker.check_config(cfg, Log())
    assert cfg.worker_connections > cfg.threads and cfg.keepalive
    assert warnings == []


def test_gunicorns_access_lines_for_static_files_are_left_out_too():
    assert quiet("web", GUNICORN.format(request="GET /static/chat.js", status=200))
    assert not quiet("web", GUNICORN.format(request="GET /lessons/3/room", status=200))


def test_an_email_is_one_line_with_recipient_subject_and_where_to_read_it():
    line = mail_line(["sam@example.com"], "Not booked: Mathematics on Wed 09 Dec 2026, 10:00",
                     "http://127.0.0.1:5000/dev/mail")
    assert line == ("to sam@example.com: “Not booked: Mathematics on Wed 09 Dec 2026, 10:00” — "
                    "http://127.0.0.1:5000/dev/mail")
    assert "\n" not in line


def test_several_recipients_and_no_subject_still_make_one_readable_line():
    assert mail_line(["a@example.com", "b@example.com"], "", "/dev/mail") == \
        "to a@example.com, b@example.com: “(no subject)” — /dev/mail"


def test_static_files_served_fine_are_left_out_but_pages_and_failures_are_kept():
    assert quiet("web", WERKZEUG.format(request="GET /static/app.css", status=304))
    assert quiet("web", WERKZEUG.format(request="GET /static/vendor/htmx-2.0.11.min.js", status=200))
    assert quiet("web", WERKZEUG.format(request="GET /favicon.ico", status=200))
    assert not quiet("web", WERKZEUG.format(request="GET /static/missing.css", status=404))
    assert not quiet("web", WERKZEUG.format(request="GET /tutors", status=200))
    assert not quiet("worker", WERKZEUG.format(request="GET /static/app.css", status=200))


def test_the_workers_routine_periodic_job_lines_are_left_out_but_failures_are_kept():
    prefix = "2026-12-02 11:34:12,990 rq.worker INFO Worker b748: "
    assert quiet("worker", prefix + "default: Deliver due emails from the outbox (periodic-deliver-outbox)")
    assert quiet("worker", prefix + "default: Job OK (periodic-deliver-outbox)")
    assert quiet("worker", prefix + "job periodic-deliver-outbox result will never expire, clean up result key manually")
    assert not quiet("worker", "2026-12-02 11:34:13,000 rq.worker ERROR Worker b748: [Job periodic-deliver-outbox]: "
                               "exception raised while executing (webapp.jobs.deliver_outbox)")
    assert not quiet("worker", prefix + "default: Send one email (3f2a)")
    # An ordinary job's "kept for 500 seconds" line is routine too (RQ says it after every job that went fine).
    assert quiet("worker", prefix + "job 3f2a8c result is kept for 500 seconds")
