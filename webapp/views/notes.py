"""(being built)"""
from flask import Blueprint

bp = Blueprint("notes", __name__)
