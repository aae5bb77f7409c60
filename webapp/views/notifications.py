"""(being built)"""
from flask import Blueprint

bp = Blueprint("notifications", __name__)
