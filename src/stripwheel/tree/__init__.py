"""Installed trees and bare files: walked, stripped in place by rename, RECORD kept true."""
