#include <sybfront.h>
#include <sybdb.h>

// Function-like macros do not import into Swift; these inline wrappers stand in for them.
static inline RETCODE breakout_dbsetluser(LOGINREC *login, const char *value) { return dbsetlname(login, value, DBSETUSER); }
static inline RETCODE breakout_dbsetlpwd(LOGINREC *login, const char *value) { return dbsetlname(login, value, DBSETPWD); }
static inline RETCODE breakout_dbsetlapp(LOGINREC *login, const char *value) { return dbsetlname(login, value, DBSETAPP); }
static inline RETCODE breakout_dbsetldbname(LOGINREC *login, const char *value) { return dbsetlname(login, value, DBSETDBNAME); }
static inline RETCODE breakout_dbsetlcharset(LOGINREC *login, const char *value) { return dbsetlname(login, value, DBSETCHARSET); }
static inline RETCODE breakout_dbsetlbcp(LOGINREC *login) { return dbsetlbool(login, 1, DBSETBCP); }
static inline RETCODE breakout_dbsetlversion74(LOGINREC *login) { return dbsetlversion(login, DBVERSION_74); }
static inline DBPROCESS *breakout_dbopen(LOGINREC *login, const char *server) { return tdsdbopen(login, server, 1); }
