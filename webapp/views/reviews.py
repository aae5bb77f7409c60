"""(being built)"""
from flask import Blueprint

bp = Blueprint("reviews", __name__)
