"""Calendar files for the import tests, written as Google Calendar exports them (one VCALENDAR, VTIMEZONEs omitted:
the TZIDs are IANA names, which icalendar resolves itself)."""

# A tutor in Europe/London, Tuesdays. 2027: New York moves its clocks on 14 March, London on 28 March.
#  - "ny-weekly": Tuesdays 06:00–07:00 New York time from 2 March, six times (11:00 UTC in March's first weeks,
#    10:00 UTC once New York is on summer time); 23 March is taken out (EXDATE); 30 March is moved to 07:00–08:00.
#  - "london-weekly": Tuesdays 09:00–09:30 London time from 16 March, four times (09:00 UTC, then 08:00 UTC).
#  - "holiday": an all-day event on Tuesday 6 April.
#  - "cancelled": a cancelled event filling 9 March's hours; "free": a transparent (free) one on 16 March.
SPRING_2027 = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
CALSCALE:GREGORIAN
X-WR-CALNAME:Personal
BEGIN:VEVENT
UID:ny-weekly@google.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=America/New_York:20270302T060000
DTEND;TZID=America/New_York:20270302T070000
RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6
EXDATE;TZID=America/New_York:20270323T060000
SUMMARY:Call with New York
END:VEVENT
BEGIN:VEVENT
UID:ny-weekly@google.com
DTSTAMP:20270101T000000Z
RECURRENCE-ID;TZID=America/New_York:20270330T060000
DTSTART;TZID=America/New_York:20270330T070000
DTEND;TZID=America/New_York:20270330T080000
SEQUENCE:1
SUMMARY:Call with New York (moved)
END:VEVENT
BEGIN:VEVENT
UID:london-weekly@google.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/London:20270316T090000
DTEND;TZID=Europe/London:20270316T093000
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Gym
END:VEVENT
BEGIN:VEVENT
UID:holiday@google.com
DTSTAMP:20270101T000000Z
DTSTART;VALUE=DATE:20270406
DTEND;VALUE=DATE:20270407
SUMMARY:Day off
END:VEVENT
BEGIN:VEVENT
UID:cancelled@google.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/London:20270309T090000
DTEND;TZID=Europe/London:20270309T130000
STATUS:CANCELLED
SUMMARY:Cancelled workshop
END:VEVENT
BEGIN:VEVENT
UID:free@google.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/London:20270316T120000
DTEND;TZID=Europe/London:20270316T130000
TRANSP:TRANSPARENT
SUMMARY:Reminder (shown as free)
END:VEVENT
END:VCALENDAR
"""

# A tutor in America/New_York, Mondays, autumn 2027: London goes back an hour on 31 October, New York on 7 November.
# "london-monday": Mondays 14:00–15:00 London time, three times from 25 October (13:00, 14:00, 14:00 UTC: 09:00,
# 10:00 and 09:00 in New York). "ny-sunday": an all-day event on Sunday 7 November, New York's 25-hour day.
AUTUMN_2027 = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
BEGIN:VEVENT
UID:london-monday@google.com
DTSTAMP:20270101T000000Z
DTSTART;TZID=Europe/London:20271025T140000
DTEND;TZID=Europe/London:20271025T150000
RRULE:FREQ=WEEKLY;COUNT=3
SUMMARY:London meeting
END:VEVENT
BEGIN:VEVENT
UID:ny-sunday@google.com
DTSTAMP:20270101T000000Z
DTSTART;VALUE=DATE:20271107
DTEND;VALUE=DATE:20271108
SUMMARY:Family day
END:VEVENT
END:VCALENDAR
"""


def single_event(uid: str, start_utc: str, end_utc: str) -> str:
    """A calendar with one event, times as 20270316T100000Z."""
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20270101T000000Z\r\nDTSTART:{start_utc}\r\nDTEND:{end_utc}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
