"""The Nominatim stand-in answers in Nominatim's jsonv2 wire format, and fails when told to."""
from __future__ import annotations

import requests


def test_a_known_address_comes_back_as_one_jsonv2_place_with_string_coordinates(nominatim):
    answer = requests.get(nominatim.url + "/search", params={"format": "jsonv2", "street": "221B  Baker Street,",
                                                             "postalcode": "nw1 6xe", "limit": "1"}, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    [place] = answer.json()
    assert (place["lat"], place["lon"]) == ("51.5237629", "-0.1584743")  # Nominatim sends strings
    assert place["display_name"].startswith("221B, Baker Street")
    assert {"place_id", "licence", "osm_type", "osm_id", "boundingbox", "category", "addresstype"} <= set(place)
    assert nominatim.requests[-1]["params"]["postalcode"] == "nw1 6xe"


def test_an_unknown_address_is_an_empty_list(nominatim):
    answer = requests.get(nominatim.url + "/search", params={"format": "json", "street": "1 Nowhere Lane",
                                                             "postalcode": "ZZ1 1ZZ"}, timeout=5)
    assert answer.status_code == 200 and answer.json() == []


def test_a_missing_format_is_nominatims_400(nominatim):
    answer = requests.get(nominatim.url + "/search", params={"street": "x"}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Parameter 'format' invalid."


def test_told_to_fail_it_answers_that_status_and_still_records_the_request(nominatim):
    nominatim.fail_with = 503
    answer = requests.get(nominatim.url + "/search", params={"format": "jsonv2"}, timeout=5)
    assert answer.status_code == 503
    assert len(nominatim.requests) == 1
