"""callboard"""
