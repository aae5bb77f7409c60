"""The lesson room: the page, the chat's WebSocket, and the htmx form and poll that work without one."""
from __future__ import annotations

import json
import threading
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, request, url_for
from flask_login import current_user, login_required
from simple_websocket import ConnectionClosed

from ..auth_loading import bearer_authenticated
from ..extensions import db, sock
from ..services import chat, sessions
from ..services.errors import NotFound, ServiceError
from .common import is_htmx, now_utc, render

bp = Blueprint("lesson_room", __name__)

SOCKET_ENDPOINT = "lesson_room.socket"
MAX_FRAME_CHARS = 16 * 1024  # frames this long are refused without parsing (the text limit is 2 KB of UTF-8)


@bp.get("/lessons/<id:lesson_id>/room")
@login_required
def page(lesson_id: int):
    """The room: the lesson in the viewer's zone, the meeting slot, the chat and the summary note (participants)."""
    room = chat.room(current_user, lesson_id, now_utc())
    return render("lessons/room.html", partial="lessons/_chat.html", room=room, seat=room.seat,
                  lesson=room.seat.lesson, me=chat.display_name(current_user, room.seat.role))


@bp.post("/lessons/<id:lesson_id>/room/messages")
@login_required
def send(lesson_id: int):
    """Post a message from the form (htmx, or a plain post without JavaScript)."""
    error = None
    try:
        chat.post(current_user, lesson_id, request.form.get("body"), now_utc())
    except ServiceError as exc:
        error = exc
    if not is_htmx():
        if error is not None:
            flash(error.message, "error")
        return redirect(url_for("lesson_room.page", lesson_id=lesson_id, _anchor="chat"), code=303)
    seat = chat.seat(current_user, lesson_id, now_utc())
    response = render("lessons/_chat_form.html", seat=seat, lesson=seat.lesson,
                      error=error.message if error else None,
                      draft=request.form.get("body", "") if error else "",
                      # htmx swaps 422 only: every refusal comes back as the form with its reason beside it.
                      status=422 if error else 200)
    if error is None:
        response.headers["HX-Trigger"] = "chat-poll"  # the poller fetches the new message at once
    return response


@bp.get("/lessons/<id:lesson_id>/room/messages")
@login_required
def poll(lesson_id: int):
    """New messages after `after` (the htmx poller's partial), and the poller again with the new last number."""
    seat = chat.seat(current_user, lesson_id, now_utc())
    after = request.args.get("after", 0, type=int) or 0
    messages = chat.messages_after(seat.lesson.id, max(after, 0))
    last = messages[-1]["seq"] if messages else max(after, 0)
    return render("lessons/_chat_poll.html", seat=seat, lesson=seat.lesson, messages=messages, last_seq=last)


# --- the WebSocket -----------------------------------------------------------------------------------------------

def _origin_allowed(origin: str | None) -> bool:
    """Same origin as the page, PUBLIC_BASE_URL's, or one CHAT_ALLOWED_ORIGINS lists. Browsers always send Origin
    on a WebSocket; only a client with a bearer token (no ambient cookie to ride on) may leave it out."""
    if not origin:
        return bearer_authenticated()
    origin = origin.rstrip("/").lower()
    allowed = {f"{request.scheme}://{request.host}".lower(), *(o.lower() for o in
                                                              current_app.config["CHAT_ALLOWED_ORIGINS"])}
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        parts = urlsplit(base)
        allowed.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origin in allowed


def _refuse(status: int, message: str):
    return jsonify({"error": {"status": status, "message": message}}), status


@bp.before_request
def handshake():
    """The socket's handshake is checked here, before flask-sock upgrades the connection: a refusal is a plain HTTP
    answer (401/403), never an accepted socket that closes."""
    if request.endpoint != SOCKET_ENDPOINT:
        return None
    if not _origin_allowed(request.headers.get("Origin")):
        return _refuse(403, "This page's origin may not open the lesson chat.")
    if not current_user.is_authenticated:
        return _refuse(401, "Please log in first.")
    try:
        g.chat_seat = chat.seat(current_user, request.view_args["lesson_id"], now_utc())
    except NotFound:
        return _refuse(403, "You are not part of this lesson.")
    if chat.too_many_sockets(current_user):
        return _refuse(429, "You have too many lesson chats open. Close some tabs, then reload this page.")
    return None


def _credential():
    """How this socket signed in, to check again before each message (a log-out elsewhere ends its rights)."""
    header = request.headers.get("Authorization", "")
    if bearer_authenticated():
        raw = header.partition(" ")[2].strip()
        return lambda: sessions.token_for(raw, now_utc()) is not None
    session_id = current_user.get_id()
    return lambda: sessions.user_for_session(session_id, now_utc()) is not None


@sock.route("/lessons/<id:lesson_id>/room/socket", bp=bp)
def socket(ws, lesson_id: int):
    """One browser's chat socket: a writer thread sends what the hub queues; this thread reads, authorizes and stores
    each message. No database connection is held while it waits."""
    user = current_user._get_current_object()
    seat = g.chat_seat
    who = chat.display_name(user, seat.role)
    zone = user.timezone
    still_signed_in = _credential()
    listener = chat.open_socket(user, lesson_id, request.args.get("after", 0, type=int) or 0)
    db.session.remove()

    def write():
        try:
            listener.pump(ws.send, lambda m: chat.wire(m, user.id, zone))
        except ConnectionClosed:
            pass
        finally:
            listener.close()
            try:
                ws.close()  # ends the reading thread's receive() too
            except ConnectionClosed:
                pass  # the browser closed it first

    writer = threading.Thread(target=write, name=f"chat-writer-{lesson_id}", daemon=True)
    writer.start()
    try:
        chat.here(lesson_id, who)
        while not listener.closed.is_set():
            frame = ws.receive()
            if frame is None:
                continue
            try:
                _handle(frame, user, lesson_id, who, listener, still_signed_in, seat.role != "admin")
            finally:
                db.session.remove()  # hand the connection back between messages
    finally:
        chat.close_socket(listener, who)
        db.session.remove()
        writer.join(2)


def _handle(frame, user, lesson_id: int, who: str, listener, still_signed_in, writer: bool) -> None:
    """One frame from the browser: a message, "typing", or "here" (a presence heartbeat)."""
    def reply(**event):
        listener.offer_event(event)

    if isinstance(frame, bytes) or len(frame) > MAX_FRAME_CHARS:
        reply(type="error", message="That message is too long; the limit is 2048 bytes (about 2,000 letters).")
        return
    try:
        data = json.loads(frame)
        kind, ref = data.get("type"), data.get("ref")
    except (ValueError, AttributeError):
        reply(type="error", message="That was not understood; reload the page and try again.")
        return
    if not still_signed_in():
        reply(type="error", message="You were logged out. Log in again to keep chatting.")
        listener.close()
        return
    if kind == "message":
        try:
            message = chat.post(user, lesson_id, data.get("body") if isinstance(data.get("body"), str) else None,
                                now_utc())
        except ServiceError as exc:
            reply(type="error", message=exc.message, ref=ref)
        else:
            reply(type="ack", seq=message["seq"], ref=ref)
            chat.stopped_typing(lesson_id, who)
    elif kind == "typing" and writer:
        chat.typing(lesson_id, who)
    elif kind == "here":
        chat.here(lesson_id, who)
