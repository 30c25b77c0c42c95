// backupIncremental(database: 'orders'[, compression:, parallel:, controller:, credentialsId:]) → as backupFull
def call(Map args) {
    Map job = lifeboat.runJob(args, 'BACKUP_INCREMENTAL', [compression: args.compression, parallel: args.parallel])
    return backupFull.backupResult(job)
}
